import { ErrorCodes, PosternError } from '../../../machines/shared/errors.ts';

export function notFound(what: string, id: string): never {
  throw new PosternError(ErrorCodes.NOT_FOUND, `no ${what} "${id}"`, { details: { field: what } });
}
