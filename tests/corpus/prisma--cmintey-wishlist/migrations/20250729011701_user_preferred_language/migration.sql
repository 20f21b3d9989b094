-- AlterTable
ALTER TABLE "user" ADD COLUMN "preferredLanguage" TEXT;
