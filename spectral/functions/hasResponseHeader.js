// Spectral custom function: the given Response Object must declare a header
// whose name matches `options.name` case-insensitively (HTTP header names are
// case-insensitive, and ADR /core/version-header says "API-Version
// (case-insensitive)"). Spectral's core functions can only look a key up with
// its exact spelling, hence this function.
//
// Spectral 6 loads ruleset functions from `functionsDir` and bundles them
// itself, so plain ESM with a default export works without extra packages.
export default function hasResponseHeader(targetVal, options, context) {
  const wanted = String((options && options.name) || '').toLowerCase();
  if (wanted === '') {
    return [{ message: 'hasResponseHeader: functionOptions.name is required' }];
  }
  if (targetVal === null || typeof targetVal !== 'object') {
    return; // not a Response Object; the OpenAPI schema rules report that
  }
  const headers = targetVal.headers;
  const names = headers !== null && typeof headers === 'object' ? Object.keys(headers) : [];
  if (names.some((name) => name.toLowerCase() === wanted)) {
    return;
  }
  return [
    {
      message: `Response must declare the "${options.name}" header`,
      path: headers !== null && typeof headers === 'object' ? [...context.path, 'headers'] : [...context.path],
    },
  ];
}
