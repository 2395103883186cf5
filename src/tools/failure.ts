/** A tool that could not do what it was asked: the message goes back to the model, not to the client. */
export class ToolFailure extends Error {}
