/**
 * How `llamactl gateway --detach` hands over to the gateway it starts in the background: the child's name and the
 * API keys go through its environment (never its argv, which other local users can read), and the child drops the
 * keys from its environment once read, so its engines never see them.
 */
export const CHILD_ENV = 'LLAMACTL_GATEWAY_CHILD';
export const KEYS_ENV = 'LLAMACTL_GATEWAY_KEYS';
