-- AlterTable
ALTER TABLE "user" ADD COLUMN "oauthId" TEXT;
