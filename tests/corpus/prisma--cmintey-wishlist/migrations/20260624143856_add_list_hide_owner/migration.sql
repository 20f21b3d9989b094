-- AlterTable
ALTER TABLE "list" ADD COLUMN "hideOwner" BOOLEAN NOT NULL DEFAULT false;
