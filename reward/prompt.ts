/**
 * The prompt of a vision-language GRM: a text template with `{instruction}` and eight image slots
 * `<image:NAME>` in the reference order (method.md section 5): reference START front, reference
 * GOAL front, BEFORE front / left wrist / right wrist, AFTER front / left wrist / right wrist.
 * The project's default template (reward/prompts/grm-default.txt) is written in its own words and
 * keeps that structure; `reward.openai.promptTemplate` names another file.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InputError } from '../common/errors.js';

export const IMAGE_SLOTS = [
  'start',
  'goal',
  'before_front',
  'before_left_wrist',
  'before_right_wrist',
  'after_front',
  'after_left_wrist',
  'after_right_wrist',
] as const;
export type ImageSlot = (typeof IMAGE_SLOTS)[number];

export const DEFAULT_PROMPT_FILE = fileURLToPath(new URL('./prompts/grm-default.txt', import.meta.url));

/** A template cut at its image slots: text, image, text, image, ... text (8 images, 9 texts). */
export interface PromptTemplate {
  file: string;
  /** Text before each image slot and after the last one; may contain `{instruction}`. */
  texts: string[];
}

export type PromptPart = { type: 'text'; text: string } | { type: 'image'; slot: ImageSlot };

/** Checks and cuts a template; `file` names it in errors. */
export function parsePromptTemplate(text: string, file: string): PromptTemplate {
  if (!text.includes('{instruction}')) throw new InputError(file, 'expected the placeholder {instruction} in the prompt template, got none');
  const pattern = /<image:([A-Za-z_]+)>/g;
  const found: string[] = [];
  const texts: string[] = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    found.push(match[1]!);
    texts.push(text.slice(last, match.index));
    last = match.index + match[0].length;
  }
  texts.push(text.slice(last));
  const expected = IMAGE_SLOTS.map((s) => `<image:${s}>`).join(' ');
  if (found.length !== IMAGE_SLOTS.length || found.some((slot, i) => slot !== IMAGE_SLOTS[i])) {
    throw new InputError(
      file,
      `expected the 8 image slots once each in the reference order (${expected}), got ${found.length === 0 ? 'none' : found.map((s) => `<image:${s}>`).join(' ')}`,
    );
  }
  return { file, texts };
}

export function loadPromptTemplate(file: string = DEFAULT_PROMPT_FILE): PromptTemplate {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError(file, `expected a readable prompt template file (reward.openai.promptTemplate), got ${(error as NodeJS.ErrnoException).code ?? 'an error'}`);
  }
  return parsePromptTemplate(text, file);
}

/** The parts of one prompt: texts with the instruction filled in, images by slot. */
export function renderPrompt(template: PromptTemplate, instruction: string): PromptPart[] {
  const parts: PromptPart[] = [];
  template.texts.forEach((text, i) => {
    const filled = text.replaceAll('{instruction}', instruction);
    if (filled.length > 0) parts.push({ type: 'text', text: filled });
    const slot = IMAGE_SLOTS[i];
    if (slot !== undefined) parts.push({ type: 'image', slot });
  });
  return parts;
}
