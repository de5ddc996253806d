ALTER TABLE "cases" ADD COLUMN "mail_alias" text;--> statement-breakpoint
CREATE UNIQUE INDEX "cases_mail_alias_key" ON "cases" USING btree ("mail_alias");