/**
 * HTML as readable text for a model: scripts, styles and page chrome dropped, block elements on
 * their own lines, links kept as `text (url)`, entities decoded, whitespace collapsed.
 */

const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'", nbsp: " ", mdash: "—", ndash: "–", hellip: "…", copy: "©" }

export const decodeEntities = (text: string): string =>
  text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, entity: string) => {
    if (entity.startsWith("#x") || entity.startsWith("#X")) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16))
    if (entity.startsWith("#")) return String.fromCodePoint(Number(entity.slice(1)))
    return named[entity.toLowerCase()] ?? whole
  })

const blocks = "address|article|aside|blockquote|br|dd|div|dl|dt|figcaption|figure|footer|h[1-6]|header|hr|li|main|ol|p|pre|section|table|tr|ul"

export const htmlToText = (html: string): { readonly text: string; readonly title: string | undefined } => {
  const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(html)?.[1]
  const text = html
    .replace(/<!--[\s\S]*?-->/g, "")
    .replace(/<(script|style|noscript|template|svg|head|nav)\b[\s\S]*?<\/\1>/gi, "")
    .replace(/<a\b[^>]*\bhref\s*=\s*["']([^"']+)["'][^>]*>([\s\S]*?)<\/a>/gi, (_, href: string, inner: string) => {
      const label = inner.replace(/<[^>]+>/g, "").trim()
      return label === "" || href.startsWith("#") || href.startsWith("javascript:") ? label : `${label} (${href})`
    })
    .replace(new RegExp(`<\\/?(${blocks})\\b[^>]*>`, "gi"), "\n")
    .replace(/<t[dh]\b[^>]*>/gi, " | ")
    .replace(/<[^>]+>/g, "")
  const lines = decodeEntities(text).split("\n").map((l) => l.replace(/[ \t\f\v\u00a0]+/g, " ").trim())
  return {
    text: lines.join("\n").replace(/\n{3,}/g, "\n\n").trim(),
    title: title === undefined ? undefined : decodeEntities(title).trim()
  }
}
