// What to tell a user when the filesystem refuses a write: one hint per kind of failure, naming the folder.
// Rules: the hint says what to do next; it never guesses at a cause the error code does not give.

/** Returns the hint for a failed write in `dir` with the error code `code` (e.g. "ENOSPC"). */
export function ioHint(code: string | undefined, dir: string): string {
  switch (code) {
    case "ENOSPC":
      return `free some space on the filesystem that holds ${dir} (\`df -h ${dir}\`), then run the command again`;
    case "EDQUOT":
      return `your disk quota on the filesystem that holds ${dir} is used up: free some space, then run the command again`;
    case "EIO":
      return `the disk reported an I/O error: check it (\`dmesg\`, \`journalctl -k\`) before writing again, and keep a backup of the store`;
    case "EROFS":
      return `the filesystem that holds ${dir} is mounted read-only`;
    case "EACCES":
    case "EPERM":
      return `check that you may write to ${dir} (its owner and mode, an immutable attribute, or a security policy such as AppArmor or SELinux)`;
    default:
      return `check free space and permissions of ${dir}, then run the command again`;
  }
}
