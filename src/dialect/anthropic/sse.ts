/** One server-sent event as Anthropic frames it: `event: <type>`, `data: <json>`, a blank line. */
export const sseFrame = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
