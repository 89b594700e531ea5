declare module 's3rver';
declare module 'dynalite';
