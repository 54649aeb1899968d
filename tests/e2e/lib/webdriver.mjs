// A small W3C WebDriver client (fetch), enough to drive the app through tauri-driver.
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

export class WebDriver {
  constructor(base, sessionId) {
    this.base = base;
    this.sessionId = sessionId;
  }

  static async connect(base, application, { timeoutMs = 30_000 } = {}) {
    const deadline = Date.now() + timeoutMs;
    let lastError;
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`${base}/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ capabilities: { alwaysMatch: { 'tauri:options': { application } } } }),
          signal: AbortSignal.timeout(Math.max(1000, deadline - Date.now())),
        });
        const body = await res.json();
        if (body.value?.sessionId) return new WebDriver(base, body.value.sessionId);
        lastError = new Error(JSON.stringify(body.value));
      } catch (err) {
        lastError = err;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`no WebDriver session: ${lastError?.message}`);
  }

  async #call(method, path, body) {
    // A WebDriver call never hangs a test: if the app died, fail after a minute.
    const res = await fetch(`${this.base}/session/${this.sessionId}${path}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(60_000),
    }).catch((err) => {
      throw new Error(`WebDriver ${method} ${path}: ${err.message}`);
    });
    const json = await res.json();
    if (json.value && json.value.error) throw new Error(`${json.value.error}: ${json.value.message}`);
    return json.value;
  }

  /** Runs a script in the page and returns its result. */
  execute(script, ...args) {
    return this.#call('POST', '/execute/sync', { script, args });
  }

  async find(selector) {
    const found = await this.#call('POST', '/element', { using: 'css selector', value: selector });
    return found[ELEMENT];
  }

  async click(selector) {
    const id = await this.find(selector);
    return this.#call('POST', `/element/${id}/click`, {});
  }

  async sendKeys(selector, text) {
    const id = await this.find(selector);
    return this.#call('POST', `/element/${id}/value`, { text });
  }

  /** Text content of the first match, or null. */
  text(selector) {
    return this.execute('const n = document.querySelector(arguments[0]); return n ? n.textContent : null;', selector);
  }

  /** Polls `probe` until it returns a truthy value. */
  async waitFor(probe, { timeoutMs = 20_000, what = 'condition' } = {}) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
      try {
        last = await probe();
        if (last) return last;
      } catch (err) {
        last = err.message;
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
  }

  /** Presses keys (W3C key values, e.g. '\uE004' for Tab) on the focused element. */
  async keys(...keys) {
    const actions = keys.flatMap((value) => [{ type: 'keyDown', value }, { type: 'keyUp', value }]);
    await this.#call('POST', '/actions', { actions: [{ type: 'key', id: 'keyboard', actions }] });
  }

  /** Presses Tab until `selector` has the focus (at most `max` times). */
  async tabTo(selector, max = 40) {
    for (let i = 0; i < max; i += 1) {
      if (await this.execute('return document.activeElement?.matches(arguments[0]) ?? false', selector)) return i;
      await this.keys('\uE004');
    }
    throw new Error(`Tab never reached ${selector}`);
  }

  async close() {
    await fetch(`${this.base}/session/${this.sessionId}`, { method: 'DELETE', signal: AbortSignal.timeout(15_000) }).catch(() => {});
  }
}
