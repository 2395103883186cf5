/**
 * The `azure-openai` provider type: Chat Completions on an Azure deployment (`llm/targets.ts` builds
 * the deployment URL and `api-key` header). API versions before 2024-09-01 reject `stream_options`,
 * so streamed usage is only asked for from newer ones.
 */
import { makeChatCompletionsBackend } from "./openai.ts"

export const supportsStreamOptions = (apiVersion: string): boolean => apiVersion.slice(0, 10) >= "2024-09-01"

export const azureOpenAIBackend = makeChatCompletionsBackend({
  options: (provider) => ({
    maxTokensField: "max_tokens",
    streamOptions: supportsStreamOptions(provider.azure?.apiVersion ?? "")
  })
})
