/**
 * CDK entry point (`cdk.json`: `npx tsx infra/app.ts`): reads the context, builds
 * AmadDistillStack and runs the cdk-nag AwsSolutions checks.
 */
import { App } from 'aws-cdk-lib';
import { buildPipelineApp } from './pipeline-app';

buildPipelineApp(new App());
