/** Cost: prices as data and the model that turns measured usage into dollars. */
export * from './model.ts';
export * from './prices.ts';
