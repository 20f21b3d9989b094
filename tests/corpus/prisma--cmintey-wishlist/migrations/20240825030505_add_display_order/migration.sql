-- AlterTable
ALTER TABLE "items" ADD COLUMN "displayOrder" INTEGER;
