// The part of yauzl (a zip reader) the benchmark uses; yauzl ships no type declarations.
declare module "yauzl" {
  interface Entry {
    fileName: string;
    uncompressedSize: number;
    compressedSize: number;
  }
  interface ZipFile {
    eachEntry(): AsyncIterable<Entry>;
    close(): void;
  }
  export function openPromise(path: string): Promise<ZipFile>;
}
