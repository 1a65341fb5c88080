// The package's public surface.
export { SwarmClient, type SwarmClientOptions } from './client/swarmClient.ts';
export { Coordinator, type CoordinatorOptions } from './coordinator/coordinator.ts';
export { TaskRouter, type Submitted } from './coordinator/router.ts';
export { AgentHost, type AgentHostOptions, type AgentSpec } from './agents/host.ts';
export { createApp, type ApiOptions, type WebPage, type WebPages } from './api/app.ts';
/** The dashboards (/dashboard, Bull Board at /admin/queues) as pages for createApp: `createApp({ ..., ...swarmPages(coordinator) })`. */
export { swarmPages } from './cli/webPages.ts';
export { Consensus, type ConsensusOptions, type ProposalView } from './consensus/runtime/consensus.ts';
export type { ProposalInput, ProposalResult } from './consensus/runtime/proposal.ts';
export type { ProtocolName } from './consensus/protocol.ts';
export { swarmConfigSchema, type SwarmConfig, type SwarmConfigInput } from './config/schema.ts';
export { SwarmError, type ErrorCode } from './errors.ts';
export type { TaskInput, TaskView, TaskState } from './tasks/schema.ts';
export type { TaskEvent, TaskEventData, TaskEventType } from './tasks/taskEvents.ts';
export type { Processor, ProcessorMap, TaskContext } from './agents/processor.ts';
export { TaskCancelledError } from './agents/cancelling.ts';
export type { CancelledView } from './coordinator/cancel.ts';
export type { BatchCancel } from './coordinator/cancelBatch.ts';
export type { CancelledReplicated } from './coordinator/cancelReplicated.ts';
export type { ApprovalOption, ApprovalView, Approver, Decision } from './tasks/approval.ts';
export type { AwaitingPage } from './coordinator/approvals.ts';
export { httpProcessor, HttpAgentFailure, type HttpProcessor, type HttpProcessorOptions } from './agents/httpAgent.ts';
export type { HttpEndpoint, HttpEndpoints } from './agents/httpEndpoints.ts';
export { verifySignature, signature as httpAgentSignature } from './agents/httpSignature.ts';
export { RetryLaterError } from './agents/retryLater.ts';
export type { KeyView } from './keys/keyAdmin.ts';
export type { KeyLimits, Rate } from './keys/limits.ts';
export { INTAKE_QUEUE, nodeQueueName } from '../queues/keys.ts';
