/** `llamactl ps`: the rows under a gateway, one per model it holds (or knows), in ps's columns. */
import type { ModelStatus } from '../gateway/model-handle.js';
import { formatMemorySize } from '../text/format-bytes.js';
import { formatDuration } from './output.js';

export function gatewayRows(models: readonly ModelStatus[] | undefined): string[][] {
  if (!models) return [['  └ (models unavailable)', '-', '-', '-', '-', '-', '-']];
  return models.map((model, index) => [
    `  ${index === models.length - 1 ? '└' : '├'} ${model.name}`,
    model.state,
    model.pid === undefined ? '-' : String(model.pid),
    `${model.inFlight}/${model.slots} busy${model.queued ? `, ${model.queued} queued` : ''}`,
    model.idleMs === undefined ? '-' : `idle ${formatDuration(model.idleMs)}`,
    model.memoryBytes === undefined ? '-' : formatMemorySize(model.memoryBytes),
    model.failure ?? model.model,
  ]);
}
