/** Setup file of a jest project (jest.config.js): every test and hook of it may take up to 20 s. */
jest.setTimeout(20000);
