// The version everynode reports in logs and metrics.
export const everynodeVersion = '0.1.0';
