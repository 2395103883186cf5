/** Reads SSE text back into (event, data) pairs, failing on anything that is not Anthropic's framing. */
export interface Frame {
  readonly event: string
  readonly data: unknown
}

export const parseFrames = (text: string): Array<Frame> => {
  if (!/^(event: [a-z_]+\ndata: [^\n]+\n\n)*$/.test(text)) throw new Error(`not SSE frames: ${JSON.stringify(text)}`)
  return text.split("\n\n").filter((chunk) => chunk !== "").map((chunk) => {
    const [eventLine = "", dataLine = ""] = chunk.split("\n")
    const event = eventLine.slice("event: ".length)
    const data: unknown = JSON.parse(dataLine.slice("data: ".length))
    if ((data as { type?: unknown }).type !== event) throw new Error(`event ${event} carries type ${JSON.stringify(data)}`)
    return { event, data }
  })
}
