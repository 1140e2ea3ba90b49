export class RateWindow {
    /** Start of the current window, or NaN while none runs. */
    #start = Number.NaN;
    /** Bytes received since `#start`. */
    #bytes = 0;
    /** Input arrived. */
    count(bytes) {
        this.#bytes += bytes;
    }
    /** A frame is open at `now`: starts a window unless one runs; returns when it closes. */
    open(now, rate) {
        if (Number.isNaN(this.#start)) {
            this.#start = now;
            this.#bytes = 0;
        }
        return this.#start + rate.per;
    }
    /** No frame is open (or no rate applies): no window runs. */
    stop() {
        this.#start = Number.NaN;
    }
    /**
     * At `now`, returns the bytes received in a window that has closed too slow (and stops), or
     * -1: the window has not closed yet, or it closed fast enough and the next one starts now.
     */
    check(now, rate) {
        if (Number.isNaN(this.#start) || now < this.#start + rate.per)
            return -1;
        if (this.#bytes < rate.bytes) {
            this.#start = Number.NaN;
            return this.#bytes;
        }
        this.#start = now;
        this.#bytes = 0;
        return -1;
    }
}
