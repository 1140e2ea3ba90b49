/** A promise and its resolver, for code that settles it from elsewhere. */
/** `Promise.withResolvers()` (resolve only), which Node 20 lacks. */
export function withResolvers<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void // the executor runs at once
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}
