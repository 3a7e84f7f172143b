import type { App } from 'aws-cdk-lib';
import { readPipelineContext } from './context';
import { addNagChecks } from './nag';
import { AmadDistillStack, type AmadDistillStackProps } from './stack';

export const STACK_NAME = 'AmadDistillStack';

/**
 * Adds the stack (configured from `app`'s context) and the cdk-nag checks to `app`.
 * Account and region come from the CLI environment (`cdk deploy --profile …`), as the
 * CDK_DEFAULT_* variables.
 */
export function buildPipelineApp(
  app: App,
  overrides: Partial<Omit<AmadDistillStackProps, 'config'>> = {},
): AmadDistillStack {
  const config = readPipelineContext(app.node);
  const stack = new AmadDistillStack(app, STACK_NAME, {
    description: 'amad-distill: AMAD distillation pipeline (Step Functions + AWS Batch GPU)',
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    ...overrides,
    config,
  });
  addNagChecks(app);
  return stack;
}
