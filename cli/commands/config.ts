import type { Command } from 'commander';
import { stringify } from 'yaml';
import { action, withCommonOptions } from '../command.js';
import { configReferenceMarkdown } from '../../config/reference.js';
import { redactConfig } from '../../config/secrets.js';

interface ConfigOptions {
  print?: boolean;
  reference?: boolean;
}

export function registerConfig(program: Command): void {
  const command = program
    .command('config')
    .description('show the effective configuration (defaults overlaid by --config) or the configuration reference')
    .option('--print', 'print the effective configuration (the default action)')
    .option('--reference', 'print the configuration reference as a Markdown table');
  withCommonOptions(command).action(
    action('config', (context, options: ConfigOptions) => {
      if (options.reference === true) {
        context.report({ reference: configReferenceMarkdown() }, configReferenceMarkdown());
        return;
      }
      // Secrets are shown as ***, in YAML and under --json alike.
      context.report(redactConfig(context.config), (config) => stringify(config));
    }),
  );
}
