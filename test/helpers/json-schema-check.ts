/** A tiny validator for the JSON-schema subset the grammar tests use (object, boolean, integer, string, enum). */
export function schemaErrors(schema: Record<string, unknown>, value: unknown, path = '$'): string[] {
  const type = schema.type;
  if (Array.isArray(schema.enum) && !schema.enum.some((option) => JSON.stringify(option) === JSON.stringify(value))) {
    return [`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`];
  }
  if (type === 'boolean') return typeof value === 'boolean' ? [] : [`${path}: not a boolean`];
  if (type === 'string') {
    if (typeof value !== 'string') return [`${path}: not a string`];
    const max = schema.maxLength;
    return typeof max === 'number' && [...value].length > max ? [`${path}: longer than ${max}`] : [];
  }
  if (type === 'integer') {
    if (typeof value !== 'number' || !Number.isInteger(value)) return [`${path}: not an integer`];
    const errors: string[] = [];
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${path}: below ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${path}: above ${schema.maximum}`);
    return errors;
  }
  if (type === 'object') {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return [`${path}: not an object`];
    const record = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
    const errors: string[] = [];
    for (const key of (schema.required ?? []) as string[]) if (!(key in record)) errors.push(`${path}.${key}: missing`);
    for (const [key, item] of Object.entries(record)) {
      const property = properties[key];
      if (property) errors.push(...schemaErrors(property, item, `${path}.${key}`));
      else if (schema.additionalProperties === false) errors.push(`${path}.${key}: not allowed`);
    }
    return errors;
  }
  return [`${path}: schema type ${String(type)} is not supported by this checker`];
}
