-- AlterTable
ALTER TABLE "list" ADD COLUMN "description" TEXT;
