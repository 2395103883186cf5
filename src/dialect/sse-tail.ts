/** The last events of a server-sent event stream, read from its tail, to tell how the stream ended. */

export interface TailEvent {
  /** the `event:` field, "" when absent */
  readonly event: string
  /** the `data:` lines joined by "\n" */
  readonly data: string
}

/**
 * The events in `tail`, oldest first. Unless the tail holds the stream from its start, the first one
 * may be partial and is dropped. A last event without its closing blank line is kept (clients
 * dispatch it at the end of the stream). Comments (`: keep-alive`) are not events.
 */
export const tailEvents = (tail: string, fromStart: boolean): Array<TailEvent> => {
  const blocks = tail.replace(/\r\n?/g, "\n").split("\n\n")
  if (!fromStart) blocks.shift()
  return blocks.flatMap((block) => {
    let event = ""
    const data: Array<string> = []
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim()
      else if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5))
    }
    return event === "" && data.length === 0 ? [] : [{ event, data: data.join("\n") }]
  })
}

export const parsesAsJson = (text: string): boolean => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}
