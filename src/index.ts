/**
 * llamactl's public API. The CLI is a thin layer over these functions.
 */
export * from './errors.js';
export { VERSION } from './version.js';
export { llamactlHome, modelsDir, runDir, cacheDir } from './store/paths.js';
export { pull, type PullOptions, type PullPlan, type PullResult, type PullEvent, type ProgressListener, type RetryOptions } from './pull.js';
export { join, type JoinOptions, type JoinResult } from './join.js';
export { listModels, findModel, removeModel, type StoredModel } from './store/models.js';
export { LocalHub, generatedBytes, type LocalHubOptions, type LocalRepoSpec, type LocalFileSpec, type Fault, type FaultKind, type LoggedRequest } from './hub/local-hub.js';
export { LlamafileClient, type LlamafileClientOptions } from './client/client.js';
export { Stream } from './client/stream.js';
export { predict, type Prediction, type PredictionInput, type PredictionMetrics, type PredictOptions } from './client/predict.js';
export { templates, resolveTemplate, renderPrompt, type PromptTemplate, type TemplateName } from './client/prompt-templates.js';
export { ChatSession, type ChatParams, type SendOptions } from './client/chat-session.js';
export { connect, type ConnectOptions, type Connection } from './client/connect.js';
export { SseDecoder, decodeSse, type SseEvent } from './client/sse.js';
export { parsePrometheus } from './client/metrics.js';
export type * from './client/types.js';
export { startServer, type StartServerOptions, type RunningServer, type RestartEvent, type ServerExit } from './server/start-server.js';
export { listServers, findServer, removeServer, type ServerRecord, type ServerStatus, type ServerState } from './store/servers.js';
export { stopServer, stopAllServers, type StopOptions } from './server/stop-detached.js';
export { startGateway, DEFAULT_GATEWAY_PORT, type StartGatewayOptions, type Gateway, type GatewayEvent } from './gateway/start-gateway.js';
export { loadGatewayConfig, parseGatewayConfig, type GatewayConfig, type GatewayModelConfig } from './gateway/config.js';
export type { ModelStatus, ModelState } from './gateway/model-handle.js';
export { readServerLog, type ReadLogOptions } from './server/server-logs.js';
export { detectRuntime, type DetectRuntimeOptions } from './runtime/detect-runtime.js';
export { buildServerArgs, type ServerArgsOptions } from './runtime/server-args.js';
export type { RuntimeInfo, RuntimeKind } from './runtime/runtime-info.js';
export type { ExitInfo } from './server/launch-engine.js';
export { inspect, type InspectOptions, type InspectResult } from './inspect.js';
export { readLlamafile, readGgufMetadata, type LlamafileInfo, type ReadLlamafileOptions } from './format/llamafile.js';
export type { GgufMetadata, GgufKv, GgufValue, GgufArray, GgufTensorInfo, ReadGgufOptions } from './format/gguf-reader.js';
export { summarizeModel, type ModelSummary } from './format/model-summary.js';
export { estimateMemory, checkFit, systemMemory, insufficientMemoryError, MEMORY_MARGIN, type MemoryEstimate, type EstimateMemoryOptions, type FitVerdict, type SystemMemory } from './format/fit.js';
export { FileSource, type RandomAccessSource } from './format/source.js';
export { writeTinyModel, ensureTinyModel, type TinyModelOptions } from './engine/tiny-model.js';
export { writeStandinLlamafile, ensureStandinLlamafile, type StandinOptions } from './engine/standin-llamafile.js';
export { runDemo, type DemoOptions, type DemoResult, type DemoEvent, type DemoStep } from './demo.js';
