-- AlterTable
ALTER TABLE "user" ADD COLUMN "picture" TEXT;
