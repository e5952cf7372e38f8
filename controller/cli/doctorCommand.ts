/** `postern doctor`: what an installer got wrong, checked without changing anything (controller/doctor). */
import { doctorExitCode, formatDoctorReport, runDoctor } from '../doctor/doctor.ts';
import type { SiteOptions } from './args.ts';
import type { CliEnvironment } from './cliContext.ts';
import { ExitStatus } from './cliErrors.ts';
import { configPath } from './siteFile.ts';

export async function doctorCommand(values: SiteOptions & { json?: boolean }, io: CliEnvironment): Promise<void> {
  const report = await runDoctor({ configFile: configPath(values.config, io.env), env: io.env });
  io.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatDoctorReport(report));
  const status = doctorExitCode(report);
  if (status !== 0) throw new ExitStatus(status);
}
