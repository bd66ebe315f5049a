/**
 * Chat messages as a job request carries them (docs/PROTOCOL.md, "Chat requests"): the schema only,
 * with no Node or model dependency, so that the browser-safe request module can validate them.
 * Rendering them into prompt tokens is chat.ts's.
 */
import * as z from "zod";

export const CHAT_ROLES = ["system", "developer", "user", "assistant", "tool"] as const;
/** Messages in a request are bounded (the whole request is, too: MAX_REQUEST_BYTES). */
export const MAX_CHAT_MESSAGES = 1024;

export const chatMessageSchema = z.strictObject({
  role: z.enum(CHAT_ROLES),
  content: z.string(),
  name: z.string().min(1).optional(),
});
export const chatMessagesSchema = z.array(chatMessageSchema).min(1, "messages must hold at least one message").max(MAX_CHAT_MESSAGES);
export type ChatMessage = z.output<typeof chatMessageSchema>;
