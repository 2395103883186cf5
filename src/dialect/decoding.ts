/**
 * What every wire format's decoders share: JSON objects as Schemas that check some fields and keep
 * the others, failures that name the field at fault (`messages.2.content.0.text`), and the list of
 * what the IR cannot carry.
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { type GatewayError, invalidRequest } from "../errors.ts"
import type { ImagePart, TextPart } from "../ir/conversation.ts"
import { firstIssue, type IssueFormatter } from "../schema-text.ts"
import type { Untranslatable } from "./wire.ts"

const Rest = [Schema.Record(Schema.String, Schema.Unknown)] as const

/** A JSON object with these fields checked and any others kept. */
export const open = <const Fields extends Schema.Struct.Fields>(fields: Fields) => Schema.StructWithRest(Schema.Struct(fields), Rest)

/** A field that may be absent or null. */
export const maybe = <S extends Schema.Top>(schema: S) => Schema.optionalKey(Schema.NullOr(schema))

/** Where a value is in the request. */
export type Path = ReadonlyArray<string | number>

/** A 400 naming the field at `at` + `detail` (or the body, at the root). */
export const invalidAt = (at: Path, detail: Path, message: string): GatewayError => {
  const param = [...at, ...detail].join(".")
  return param === "" ? invalidRequest(`request body: ${message}`) : invalidRequest(`${param}: ${message}`, param)
}

/** `decodeAt(schema, at, input)`: `input`, found at `at`, decoded, or a 400 naming the first field at fault in the format's words. */
export const makeDecodeAt = (formatter: IssueFormatter) =>
<T>(schema: Schema.Decoder<T>, at: Path, input: unknown): Result.Result<T, GatewayError> =>
  Result.mapError(Schema.decodeUnknownResult(schema)(input), (error) => {
    const first = firstIssue(formatter, error)
    return invalidAt(at, first?.path ?? [], first?.message ?? "invalid value")
  })

/** What the IR cannot carry, collected as a request is decoded: a provider of the client's format still gets it. */
export class Untranslated {
  readonly items: Array<Untranslatable> = []
  note(at: Path, what: string, essential = false): undefined {
    this.items.push({ param: at.join("."), message: what, ...(essential ? { essential } : {}) })
    return undefined
  }
}

/** The text of decoded content, its images left out: what a system turn or a tool result carries. */
export const textOnly = (parts: ReadonlyArray<TextPart | ImagePart>): Array<TextPart> => parts.filter((p): p is TextPart => p.type === "text")
