/**
 * Server-sent events (https://html.spec.whatwg.org/multipage/server-sent-events.html), both ways:
 * {@link parseSse} turns a byte stream into `{event, data}` messages; {@link sseFrame} writes one.
 */

export interface SseMessage {
  /** The `event:` field ("message" when absent). */
  event: string;
  /** The `data:` lines joined by "\n". */
  data: string;
}

/** Messages of an SSE byte stream, in order (comments and `id:`/`retry:` fields are ignored). */
export async function* parseSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder();
  let buf = "";
  let event = "";
  let data: string[] = [];
  const line = function* (l: string): Generator<SseMessage> {
    if (l === "") {
      if (data.length > 0) yield { event: event || "message", data: data.join("\n") };
      event = "";
      data = [];
      return;
    }
    if (l.startsWith(":")) return;
    const colon = l.indexOf(":");
    const field = colon < 0 ? l : l.slice(0, colon);
    let value = colon < 0 ? "" : l.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  };
  for await (const chunk of body) {
    buf += decoder.decode(chunk, { stream: true });
    let i: number;
    while ((i = buf.search(/\r\n|\r|\n/)) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(buf[i] === "\r" && buf[i + 1] === "\n" ? i + 2 : i + 1);
      yield* line(l);
    }
  }
  buf += decoder.decode();
  if (buf !== "") yield* line(buf);
  yield* line("");
}

/** One SSE message (`event` omitted for the default "message"). */
export function sseFrame(data: string, event?: string): string {
  return `${event ? `event: ${event}\n` : ""}${data
    .split("\n")
    .map((d) => `data: ${d}`)
    .join("\n")}\n\n`;
}
