#!/usr/bin/env node
// Runs s3rver (its bin/s3rver.js, with the same arguments) with atomic object
// writes, as S3's are, for the storage tests (src/storage/s3/testing).
//
//   node s3rver_atomic.js NODE_MODULES_DIR --directory DIR --port 0 ...
//
// s3rver's filesystem store writes an object's file in place and answers
// before the write stream has finished, so a reader that races a PUT of the
// same key can see a short object, which S3 never shows (the backend
// conformance suite checks exactly that). Here a PUT writes a temporary file
// beside the object, waits until it is complete and renames it into place;
// the temporary name does not end in "._S3rver_object", so listing skips it.
// The object's MD5 and metadata files are replaced the same way, so that a
// concurrent reader never parses half a file.
'use strict';

const path = require('path');

const modules = process.argv[2];
if (!modules) {
  console.error('usage: s3rver_atomic.js NODE_MODULES_DIR [s3rver arguments]');
  process.exit(2);
}
process.argv.splice(2, 1);

const crypto = require('crypto');
const { Transform, pipeline } = require('stream');
const fs = require(path.join(modules, 'fs-extra'));
const FilesystemStore = require(path.join(modules, 's3rver/lib/stores/filesystem'));

const { pick, pickBy } = require(path.join(modules, 'lodash'));
const S3Object = require(path.join(modules, 's3rver/lib/models/object'));

async function writeFileAtomically(file, data) {
  const temporary = `${file}.${crypto.randomBytes(8).toString('hex')}.partial`;
  try {
    await fs.writeFile(temporary, data);
    await fs.rename(temporary, file);
  } catch (err) {
    await fs.remove(temporary);
    throw err;
  }
}

FilesystemStore.prototype.putMetadata = async function putMetadata(bucket, key, metadata, md5) {
  const json = {
    ...pick(metadata, S3Object.ALLOWED_METADATA),
    ...pickBy(metadata, (value, name) => name.startsWith('x-amz-meta-')),
  };
  if (md5) await writeFileAtomically(this.getResourcePath(bucket, key, 'object.md5'), md5);
  await writeFileAtomically(
    this.getResourcePath(bucket, key, 'metadata.json'),
    JSON.stringify(json, null, 2),
  );
};

FilesystemStore.prototype.putObject = async function putObject(object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  const temporary = `${objectPath}.${crypto.randomBytes(8).toString('hex')}.partial`;
  await fs.mkdirp(path.dirname(objectPath));
  const md5Context = crypto.createHash('md5');
  let size = 0;
  try {
    if (Buffer.isBuffer(object.content)) {
      await fs.writeFile(temporary, object.content);
      md5Context.update(object.content);
      size = object.content.length;
    } else {
      await new Promise((resolve, reject) => {
        pipeline(
          object.content,
          new Transform({
            transform(chunk, encoding, callback) {
              md5Context.update(chunk, encoding);
              size += chunk.length;
              callback(null, chunk);
            },
          }),
          fs.createWriteStream(temporary),
          err => (err ? reject(err) : resolve()),
        );
      });
    }
    await fs.rename(temporary, objectPath);
  } catch (err) {
    await fs.remove(temporary);
    throw err;
  }
  const md5 = md5Context.digest('hex');
  await this.putMetadata(object.bucket, object.key, object.metadata, md5);
  return { size, md5 };
};

require(path.join(modules, 's3rver/bin/s3rver.js'));
