// The dashboard's entry (bundled by build.ts): the styles and the app, rendered into #app.
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { render } from 'preact';
import { App } from './app.js';

render(<App />, document.getElementById('app')!);
