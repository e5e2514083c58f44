import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { cdrCodec } from '../robot/ros2/definitions.js';
import type { CameraInfoMsg } from '../robot/ros2/messages.js';
import { cameraInfoYaml, fromCameraInfoMsg, readCameraInfo, toCameraInfoMsg, validateCameraInfo } from './camera-info.js';

const example = fileURLToPath(new URL('./examples/cam_high.yaml', import.meta.url));

function variant(change: (doc: Record<string, unknown>) => void): Record<string, unknown> {
  const doc = parse(readFileSync(example, 'utf8')) as Record<string, unknown>;
  change(doc);
  return doc;
}

describe('camera_info YAML', () => {
  it('reads the ROS layout, round-trips through YAML and a CDR CameraInfo', () => {
    const info = readCameraInfo(example);
    expect(info).toMatchObject({ cameraName: 'cam_high', width: 640, height: 480, distortionModel: 'plumb_bob' });
    expect(info.k).toEqual([615.2, 0, 320.5, 0, 615.8, 240.1, 0, 0, 1]);
    const dir = mkdtempSync(join(tmpdir(), 'dopamine-caminfo-'));
    const again = join(dir, 'again.yaml');
    writeFileSync(again, cameraInfoYaml(info));
    expect({ ...readCameraInfo(again), file: example }).toEqual(info);
    const codec = cdrCodec<CameraInfoMsg>('sensor_msgs/msg/CameraInfo');
    const msg = codec.decode(codec.encode(toCameraInfoMsg(info, 1500)));
    expect({ ...fromCameraInfoMsg(msg, example) }).toEqual(info);
  });

  it('names the file and the key of what is wrong', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [variant((d) => delete d.image_width), /x\.yaml: image_width: expected number, got nothing/],
      [variant((d) => (d.image_height = -4)), /image_height: .*got -4/],
      [variant((d) => ((d.camera_matrix as { data: number[] }).data = [1, 2, 3])), /camera_matrix\.data: expected 9 numbers \(rows 3 x cols 3\), got 3/],
      [variant((d) => ((d.camera_matrix as { rows: number }).rows = 4)), /camera_matrix\.rows: .*got 4/],
      [variant((d) => (d.distortion_model = 'fisheye9')), /distortion_model: expected one of plumb_bob, rational_polynomial, equidistant, got "fisheye9"/],
      [variant((d) => (d.distortion_coefficients = { rows: 1, cols: 4, data: [0, 0, 0, 0] })), /distortion_coefficients\.data: expected 5 coefficients for plumb_bob, got 4/],
      [variant((d) => ((d.camera_matrix as { data: number[] }).data[0] = 0)), /camera_matrix\.data: expected positive focal lengths/],
      [variant((d) => ((d.camera_matrix as { data: number[] }).data[2] = 900)), /principal point inside the 640x480 image/],
      [variant((d) => ((d.rectification_matrix as { data: number[] }).data = [2, 0, 0, 0, 1, 0, 0, 0, 1])), /rectification_matrix\.data: expected a rotation/],
      [variant((d) => (d.extra = 1)), /unknown key extra/],
    ];
    for (const [doc, message] of cases) expect(() => validateCameraInfo(doc, 'x.yaml')).toThrow(message);
    const dir = mkdtempSync(join(tmpdir(), 'dopamine-caminfo-'));
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'image_width: [1,\n');
    expect(() => readCameraInfo(broken)).toThrow(/broken\.yaml: expected YAML/);
    expect(() => readCameraInfo(join(dir, 'none.yaml'))).toThrow(/none\.yaml: expected a readable camera_info YAML file, got ENOENT/);
    writeFileSync(join(dir, 'ok.yaml'), stringify(variant(() => undefined)));
    expect(readCameraInfo(join(dir, 'ok.yaml')).width).toBe(640);
  });
});
