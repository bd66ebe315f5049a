/**
 * Registry of benchmark sections, run in this order by `scripts/bench.ts`. To add a section, write a
 * module under scripts/bench/ that exports a `BenchSection` and append it here.
 */
import type { BenchSection } from "./types.js";
import { gasSection } from "./gas.js";
import { detectionSection, receiptSection, replaySection } from "./replay.js";
import { economicsSection } from "./economics.js";
import { tokenDetectionSection } from "./token-detection.js";
import { calibrationSection } from "./calibration.js";
import { longContextSection } from "./long-context.js";
import { modelsSection } from "./models.js";

export const sections: BenchSection[] = [gasSection, replaySection, receiptSection, detectionSection, tokenDetectionSection, calibrationSection, modelsSection, longContextSection, economicsSection];
