/**
 * The `azure-openai` provider type: Chat Completions on an Azure deployment (`llm/targets.ts` builds
 * the deployment URL and `api-key` header). API versions before 2024-09-01 reject `stream_options`
 * and `max_completion_tokens`, so those are sent only to newer ones.
 */
import { makeChatCompletionsBackend } from "./openai.ts"

export const supportsStreamOptions = (apiVersion: string): boolean => apiVersion.slice(0, 10) >= "2024-09-01"

export const azureOpenAIBackend = makeChatCompletionsBackend({
  options: (provider) => {
    // the same versions know max_completion_tokens (which reasoning deployments require)
    const recent = supportsStreamOptions(provider.azure?.apiVersion ?? "")
    return { maxTokensField: recent ? "max_completion_tokens" : "max_tokens", streamOptions: recent }
  }
})
