/** The run report: schema of its data, the renderer, and the metrics summary it states. */
export {
  ReportDataSchema,
  ReportDataError,
  parseReportData,
  encodeRgbImage,
  MatrixSchema,
  RgbImageSchema,
  MetricDefSchema,
  ModelReportSchema,
  AlignmentSchema,
  AttentionSampleSchema,
  SamplePredictionSchema,
  FailureSchema,
  type ReportData,
  type ReportDataInput,
  type Matrix,
  type RgbImage,
  type MetricDef,
  type ModelReport,
  type Alignment,
  type AttentionSample,
  type SamplePrediction,
} from './schema';
export { renderReport, type RenderedReport } from './render';
export { buildMetricsSummary, isAmadMethod, MetricsSummarySchema, type MetricsSummary, type ModelSummary, type Comparison } from './summary';
