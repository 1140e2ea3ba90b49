/**
 * The engine with no socket under it, for the micro-benchmarks: writes are counted and dropped
 * (and complete at once), reads are fed by hand, timers are never armed. Socket costs are left
 * out on purpose: they are the same for every implementation and hide what the protocol spends.
 */
import { Engine } from '../../src/engine.js';
import { Limits } from '../../src/limits.js';
/** The I/O that does nothing but count. */
class NullIO {
    remoteAddress = undefined;
    remotePort = undefined;
    localAddress = undefined;
    localPort = undefined;
    /** Bytes written so far. */
    written = 0;
    /** Times reading was switched on or off (each is a socket pause()/resume() on a real stream). */
    readingSwitches = 0;
    #reading = false;
    /** Set to run wakeups in a microtask, as a Stream does. */
    engine = null;
    clock() {
        return performance.now();
    }
    write(data) {
        this.written += data.length;
        return 0;
    }
    unwritten() {
        return 0;
    }
    setReading(on) {
        if (on !== this.#reading)
            this.readingSwitches++;
        this.#reading = on;
    }
    armTimer() { }
    scheduleWakeup() {
        const engine = this.engine;
        if (engine !== null)
            queueMicrotask(() => engine.onWakeup());
    }
    halfClose() { }
    finish() { }
    destroy() { }
    reportError() { }
}
export class NullEngine {
    #io = new NullIO();
    #engine = new Engine(this.#io, new Limits(undefined));
    /** With `microtaskWakeups`, wakeups run in a microtask, as on a Stream; otherwise only `wake()` runs them. */
    constructor(options = {}) {
        if (options.microtaskWakeups)
            this.#io.engine = this.#engine;
    }
    /** Bytes written so far. */
    get written() {
        return this.#io.written;
    }
    /** Times reading was switched on or off. */
    get readingSwitches() {
        return this.#io.readingSwitches;
    }
    get isEnded() {
        return this.#engine.isEnded;
    }
    begin(factory) {
        this.#engine.start(factory, undefined);
    }
    feed(chunk) {
        this.#engine.onData(chunk);
    }
    /** What the wakeup microtask does, run now. */
    wake() {
        this.#engine.wakeup();
        this.#engine.onWakeup();
    }
}
