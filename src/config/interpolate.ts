/** `${NAME}` or `${NAME:-default}`; names follow POSIX shell variable rules. */
const PATTERN = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface InterpolationResult {
  text: string;
  /** Variables referenced without a default and not set, with the line they appear on. */
  missing: { name: string; line: number }[];
}

/**
 * Replaces `${VAR}` / `${VAR:-default}` in the file's text before it is parsed, so a
 * substituted number stays a number. Lines that are YAML comments are left alone: a
 * commented-out reference must not make the file invalid.
 */
export function interpolate(text: string, env: NodeJS.ProcessEnv): InterpolationResult {
  const missing: { name: string; line: number }[] = [];
  const lines = text.split('\n').map((line, i) => {
    if (/^\s*#/.test(line)) return line;
    return line.replace(PATTERN, (_m, name: string, fallback: string | undefined) => {
      const value = env[name];
      if (value !== undefined && value !== '') return value;
      if (fallback !== undefined) return fallback;
      if (value === '') return value;
      missing.push({ name, line: i + 1 });
      return '';
    });
  });
  return { text: lines.join('\n'), missing };
}
