/**
 * The `tapnet` command line.
 *
 *   tapnet up [--tap NAME] [--subnet CIDR] [--netns NS] [--no-host-addr] [--pcap FILE] [--log-level L]
 *   tapnet show stats|arp|routes|interfaces [--tap NAME]
 *   tapnet ping ADDRESS [--tap NAME] [-c COUNT]
 *
 * A bad argument prints one line naming it and exits with code 2.
 */
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { parseIpv4, parseIpv4Cidr } from './l3/ipv4/address.js';
import { LOG_LEVELS, type LogLevel } from './core/trace.js';
import { controlRequest, controlSocketPath } from './control.js';
import { runUp, type UpOptions } from './lab/up.js';

export const EXIT_USAGE = 2;

/** Linux interface names: 1..15 bytes, no '/', no whitespace, not "." or "..". */
function tapName(value: string): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(value) || value === '.' || value === '..') {
    throw new InvalidArgumentError('expected an interface name of 1-15 letters, digits, "_", "-" or "."');
  }
  return value;
}

function netnsName(value: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(value) || value === '.' || value === '..') {
    throw new InvalidArgumentError('expected a namespace name of letters, digits, "_", "-" or "."');
  }
  return value;
}

function subnet(value: string): string {
  const cidr = parseIpv4Cidr(value);
  if (!cidr) throw new InvalidArgumentError('expected an IPv4 CIDR like 10.77.0.0/24');
  if (cidr.prefixLength < 8 || cidr.prefixLength > 30) {
    throw new InvalidArgumentError('prefix length must be between /8 and /30 (tapnet needs .1 and .2)');
  }
  return value;
}

function ipv4Address(value: string): string {
  if (parseIpv4(value) === undefined) throw new InvalidArgumentError('expected an IPv4 address like 10.77.0.2');
  return value;
}

function positiveInt(value: string): number {
  if (!/^[1-9][0-9]{0,5}$/.test(value)) throw new InvalidArgumentError('expected a positive integer');
  return Number(value);
}

function tapOption(): Option {
  return new Option('--tap <name>', 'TAP interface name').argParser(tapName).default('tapnet0');
}

export function buildProgram(): Command {
  const program = new Command('tapnet')
    .description('A userspace network stack on Linux TAP devices')
    .showSuggestionAfterError(false)
    .exitOverride()
    .configureOutput({
      // One line per error, "tapnet: ..." (commander's own text names the option and the value).
      outputError: (text, write) => write(`tapnet: ${text.replace(/^error: /, '').split('\n')[0]}\n`),
    });

  program
    .command('up')
    .description('serve the default lab on a TAP: ping, arping (and more as tapnet grows) from the kernel end')
    .addOption(tapOption())
    .addOption(new Option('--subnet <cidr>', 'IPv4 subnet; tapnet takes .1, the kernel end .2').argParser(subnet).default('10.77.0.0/24'))
    .addOption(new Option('--netns <ns>', 'move the kernel end into this network namespace (created if absent)').argParser(netnsName))
    .option('--no-host-addr', 'do not give the kernel end an address')
    .option('--pcap <file>', 'capture every frame of the TAP to a pcap file')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS as string[]).default('info'))
    .action(async (opts: { tap: string; subnet: string; netns?: string; hostAddr: boolean; pcap?: string; logLevel: LogLevel }) => {
      const options: UpOptions = {
        tap: opts.tap,
        subnet: parseIpv4Cidr(opts.subnet)!,
        netns: opts.netns,
        hostAddress: opts.hostAddr,
        pcap: opts.pcap,
        logLevel: opts.logLevel,
      };
      await runUp(options);
    });

  program
    .command('show')
    .description('print state of a running tapnet: stats, arp, routes, interfaces')
    .addArgument(new Argument('<what>', 'what to show').choices(['stats', 'arp', 'routes', 'interfaces']))
    .addOption(tapOption())
    .option('--json', 'print JSON instead of a table')
    .action(async (what: string, opts: { tap: string; json?: boolean }) => {
      const result = await ask(opts.tap, { command: 'show', args: opts.json ? [what, 'json'] : [what] });
      if (opts.json || typeof result !== 'string') process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      else process.stdout.write(result);
    });

  program
    .command('ping')
    .description('send ICMP echo requests from tapnet (resolving the target with ARP)')
    .argument('<address>', 'IPv4 address', ipv4Address)
    .addOption(tapOption())
    .addOption(new Option('-c, --count <n>', 'number of echo requests').argParser(positiveInt).default(3))
    .action(async (address: string, opts: { tap: string; count: number }) => {
      const result = (await ask(opts.tap, { command: 'ping', args: [address, String(opts.count)] })) as string;
      process.stdout.write(result);
    });

  return program;
}

async function ask(tap: string, request: { command: string; args: string[] }): Promise<unknown> {
  const path = controlSocketPath(tap);
  let reply;
  try {
    reply = await controlRequest(path, request, 60_000);
  } catch (e) {
    throw new CliError(`no tapnet is running on ${tap} (${path}: ${(e as Error).message})`);
  }
  if (!reply.ok) throw new CliError(reply.error);
  return reply.result;
}

export class CliError extends Error {}

export async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; every usage error exits 2 (the message was already printed).
      process.exit(e.exitCode === 0 ? 0 : EXIT_USAGE);
    }
    if (e instanceof CliError || (e instanceof Error && e.name === 'UsageError')) {
      process.stderr.write(`tapnet: ${e.message}\n`);
      process.exit(e.name === 'UsageError' ? EXIT_USAGE : 1);
    }
    process.stderr.write(`tapnet: ${(e as Error).message ?? e}\n`);
    process.exit(1);
  }
}
