/** Size limits of the write side (API.md "Domain"); inputs beyond them are BAD_USER_INPUT. */
export const LIMITS = {
  labelLength: 1_000,
  descriptionLength: 10_000,
  /** Property definitions per class. */
  classProperties: 500,
  /** Properties per instance, and entries of one `set` or `unset`. */
  instanceProperties: 1_000,
  /** Characters of one string anywhere in a property value. */
  stringValueLength: 100_000,
} as const;

/**
 * Matches PROPERTY_NAME but must never become an object key: assigning it would change an object's
 * prototype instead of adding a property.
 */
export const RESERVED_PROPERTY_NAMES: ReadonlySet<string> = new Set(['__proto__']);
