CREATE TABLE "inbound_messages" (
	"case_id" uuid NOT NULL,
	"message_key" text NOT NULL,
	"note_id" uuid,
	"received_at" timestamp with time zone NOT NULL,
	CONSTRAINT "inbound_messages_case_id_message_key_pk" PRIMARY KEY("case_id","message_key")
);
--> statement-breakpoint
ALTER TABLE "inbound_messages" ADD CONSTRAINT "inbound_messages_case_id_cases_id_fk" FOREIGN KEY ("case_id") REFERENCES "public"."cases"("id") ON DELETE no action ON UPDATE no action;