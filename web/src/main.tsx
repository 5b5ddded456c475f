import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import './styles.css';
import { App } from './app.js';
import { loadCategories } from './lib/catalog.js';
import { loadCurrencies } from './lib/money.js';
import { restoreSession } from './lib/session.js';
import './lib/account.js';

void restoreSession();
void loadCurrencies();
void loadCategories();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
