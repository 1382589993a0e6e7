/** Limits on user plug-ins, shared by the config schema and the bundler. */

/** Plug-in modules one run may bring (strategies and a decision rule together). */
export const MAX_PLUGIN_MODULES = 8;
/** Largest plug-in worker program (user code and its dependencies, minified). */
export const MAX_PLUGIN_BYTES = 4 * 1024 * 1024;
