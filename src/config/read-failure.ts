/** Why a file could not be read, in words; other codes are shown as they are. */
const READ_FAILURES: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  ELOOP: 'too many symbolic links',
};

/** `cannot read file (ENOENT): no such file`, for the configuration file and the files it names. */
export function describeReadFailure(code: string): string {
  const reason = READ_FAILURES[code];
  return `cannot read file (${code})${reason ? `: ${reason}` : ''}`;
}
