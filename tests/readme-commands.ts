/**
 * The commands of a markdown file's `sh` blocks, as a reader pastes them: shared by
 * tests/integration/readme.test.ts (which runs README.md's) and tests/unit/docs/command-blocks.test.ts
 * (which checks labs/README.md's and README.md's against the CLI, the lab files and the counter tables).
 */
export interface ReadmeCommand {
  readonly text: string;
  /** 1-based line in the file where the command starts. */
  readonly line: number;
  readonly mode: 'run' | 'untilCtrlC' | 'background';
}

/** The commands of a markdown file's `sh` blocks, in order. */
export function readmeCommands(markdown: string): ReadmeCommand[] {
  const commands: ReadmeCommand[] = [];
  const lines = markdown.split('\n');
  let inSh = false;
  let inOther = false;
  let pending: { text: string; line: number } | undefined;
  lines.forEach((raw, i) => {
    const fence = /^```(\S*)\s*$/.exec(raw);
    if (fence && !inSh && !inOther) {
      if (fence[1] === 'sh') inSh = true;
      else inOther = true;
      return;
    }
    if (fence && fence[1] === '') {
      inSh = inOther = false;
      return;
    }
    if (!inSh) return;
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) return;
    const text = pending ? `${pending.text} ${line}` : line;
    const start = pending?.line ?? i + 1;
    if (line.endsWith('\\')) {
      pending = { text: text.slice(0, -1).trimEnd(), line: start };
      return;
    }
    pending = undefined;
    const untilCtrlC = /#.*\bruns until Ctrl-C/.test(text);
    const background = /(?<!&)&\s*(#.*)?$/.test(text);
    commands.push({ text, line: start, mode: untilCtrlC ? 'untilCtrlC' : background ? 'background' : 'run' });
  });
  return commands;
}

/** A shell comment at the end of a line (outside quotes), for messages and EXPECTED; the shell ignores it anyway. */
export function withoutComment(text: string): string {
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) return text.slice(0, i).trimEnd();
  }
  return text;
}
