-- AlterTable
ALTER TABLE "key" ADD COLUMN "expires" BIGINT;
