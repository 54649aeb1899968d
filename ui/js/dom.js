// Small DOM helpers for views that update in place: build a node once, then
// patch only what changed, so keyboard focus, scroll position, open <details>
// and the button under the pointer survive every state event.

export const $ = (id) => document.getElementById(id);

/** `el('button', { className: 'x', dataset: { id }, onClick }, 'text', child)` */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'className') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2).toLowerCase(), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Writes a text only when it differs (a write costs a layout and may be announced). */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** Sets, changes or (for null/undefined/false) removes an attribute, only when needed. */
export function setAttr(node, name, value) {
  if (value === null || value === undefined || value === false) {
    if (node.hasAttribute(name)) node.removeAttribute(name);
  } else if (node.getAttribute(name) !== String(value)) {
    node.setAttribute(name, value);
  }
}

export function setData(node, values) {
  for (const [key, value] of Object.entries(values)) {
    if (node.dataset[key] !== value) node.dataset[key] = value;
  }
}

export function setClass(node, className) {
  if (node.className !== className) node.className = className;
}

export function setHidden(node, hidden) {
  if (node.hidden !== hidden) node.hidden = hidden;
}

/** Adds, keeps or removes an optional child: `make()` builds it when it is wanted and missing. */
export function optional(parent, selector, wanted, make, before = null) {
  let node = parent.querySelector(`:scope > ${selector}`);
  if (!wanted) {
    if (node) removeKeepingFocus(node, () => null);
    return null;
  }
  if (!node) {
    node = make();
    parent.insertBefore(node, before);
  }
  return node;
}

const KEYED = new WeakMap();
const focusable = 'button:not([disabled]), input, summary, [href], [tabindex]:not([tabindex="-1"])';

/**
 * Makes the keyed children of `container` the nodes of `items`, in order: a
 * node is made once per key (`create(item)`) and patched on every call
 * (`update(node, item)`). Nodes move only when the order changed; one that held
 * the focus gets it back. When the focused node goes away, the focus goes to the
 * same control (`data-action`) of the node that takes its place, else its first
 * control. The container holds only these keyed nodes.
 */
export function syncList(container, items, { key, create, update }) {
  let nodes = KEYED.get(container);
  if (!nodes) KEYED.set(container, (nodes = new Map()));
  const wanted = new Set(items.map(key));
  let lost = null;
  let index = 0;
  for (const [k, node] of nodes) {
    if (!wanted.has(k)) {
      if (!lost && node.contains(document.activeElement)) {
        lost = { index, action: document.activeElement.closest('[data-action]')?.dataset.action };
      }
      node.remove();
      nodes.delete(k);
    } else {
      index += 1;
    }
  }
  const order = items.map((item) => {
    const k = key(item);
    let node = nodes.get(k);
    if (!node) nodes.set(k, (node = create(item)));
    update(node, item);
    return node;
  });
  let expected = container.firstChild;
  for (const node of order) {
    if (node !== expected) place(container, node, expected);
    expected = node.nextSibling;
  }
  // Map order = display order, so the next removal finds the right neighbour.
  nodes.clear();
  order.forEach((node, i) => nodes.set(key(items[i]), node));
  if (lost && (!document.activeElement || document.activeElement === document.body)) {
    const neighbour = order[Math.min(lost.index, order.length - 1)];
    const target = neighbour && ((lost.action && neighbour.querySelector(`[data-action="${lost.action}"]`)) || neighbour.querySelector(focusable) || (neighbour.matches(focusable) ? neighbour : null));
    target?.focus({ preventScroll: true });
  }
  return order;
}

/** Inserts or moves `node` before `ref`, keeping the focus it holds. */
function place(container, node, ref) {
  const active = document.activeElement;
  const holds = node.isConnected && active && active !== document.body && node.contains(active);
  if (holds && typeof container.moveBefore === 'function') {
    try {
      container.moveBefore(node, ref);
      return;
    } catch {
      // fall through: an ordinary move, then give the focus back
    }
  }
  container.insertBefore(node, ref);
  if (holds && document.activeElement !== active) active.focus({ preventScroll: true });
}

/** Removes `node`; if it held the focus, `fallback()` names where the focus goes. */
export function removeKeepingFocus(node, fallback) {
  const held = node.contains(document.activeElement);
  node.remove();
  if (held && (!document.activeElement || document.activeElement === document.body)) fallback()?.focus({ preventScroll: true });
}
